// The scanner is header-only (static inline, see include/CSMTPScan.h); SwiftPM wants a source file.
