"""labmail.notebook"""
