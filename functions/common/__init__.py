"""Code both Lambda zips carry: configuration, clients, record parsing, batch triage, Kinesis puts."""
