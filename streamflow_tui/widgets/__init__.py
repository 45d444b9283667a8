"""The console's widgets: each shows one part of an immutable snapshot."""
