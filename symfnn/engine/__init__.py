"""The engine: the spec, the rule tables (activations, losses, training), the derivation and its proof."""
