"""The model: its in-memory form, its file format and checks, importers from ncps/torch, data files, wiring specs."""
