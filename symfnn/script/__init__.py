"""The generated script: its code printer, the runtime it includes verbatim, and its gradient check."""
