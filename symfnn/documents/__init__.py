"""The documents: the derivation printed as LaTeX/PDF, HTML and terminal text, English and Chinese."""
