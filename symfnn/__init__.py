"""symfnn: derive, prove, document and generate backpropagation for feedforward networks."""

__version__ = "0.1.0"
