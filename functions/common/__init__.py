"""Code both Lambda zips carry: configuration, record parsing, batch triage, scoring (clients: clients/)."""
