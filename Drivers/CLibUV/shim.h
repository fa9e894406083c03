// libuv, plus casts between handle types that Swift sees as unrelated structs.
#ifndef SMTP_CLIBUV_SHIM_H
#define SMTP_CLIBUV_SHIM_H

#include <uv.h>

static inline uv_handle_t *smtp_uv_tcp_as_handle(uv_tcp_t *tcp) { return (uv_handle_t *)tcp; }
static inline uv_stream_t *smtp_uv_tcp_as_stream(uv_tcp_t *tcp) { return (uv_stream_t *)tcp; }
static inline uv_handle_t *smtp_uv_timer_as_handle(uv_timer_t *timer) { return (uv_handle_t *)timer; }
static inline uv_handle_t *smtp_uv_async_as_handle(uv_async_t *async) { return (uv_handle_t *)async; }

#endif
