"""Modules scripts import by their plain names (`pos_utils`, `host`): the host puts this
folder on sys.path, as the original product's pyredist folder was."""
