"""One module per `bptt` sub-command."""
