"""labmail.access"""
