"""labmail.mda"""
