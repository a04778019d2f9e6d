"""The local stack's extensions of moto, one idea per module; ``local/moto_ext.py`` wires them."""
