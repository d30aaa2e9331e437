"""labmail.mta"""
