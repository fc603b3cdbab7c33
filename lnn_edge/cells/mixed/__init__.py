"""Mixed memory: ncps's ``mixed_memory=True``, an LSTM cell stepped in front of a liquid cell (LTC or CfC)."""
