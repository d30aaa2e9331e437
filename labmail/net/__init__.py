"""labmail.net"""
