"""Commands room: what each `smlaunch` verb does, in order (launch, reproduce, diff, shell, ...).

The CLI (`launcher/cli.py`) parses arguments and calls these; they call the rooms along the data path.
"""
