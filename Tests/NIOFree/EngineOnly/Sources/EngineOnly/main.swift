import SMTPCore

// Enough to link the engine: a machine made and asked for its first action.
var machine = try SMTPMachine(configuration: SMTPConfiguration(heloName: "client.example"))
print(machine.nextAction())
