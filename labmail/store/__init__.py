"""labmail.store"""
