import SMTPSocketDriver

// Enough to link the driver: its one-shot send is referenced.
let send = SMTPClient.send
print(type(of: send))
