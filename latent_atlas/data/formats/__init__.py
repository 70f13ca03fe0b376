"""Parsers of scene folders, one module per format; `load_scene` picks one."""
