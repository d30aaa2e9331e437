"""labmail.spam"""
