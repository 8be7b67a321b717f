"""The runtime of a generated script: ordinary modules that every script includes verbatim.

What is not mathematics lives here — the rules of the numeric options, shared with symfnn's
`[training]` table (`checks`), atomic writes of the outputs (`safeio`), data loading and
checks (`data`), the network's buffers
and public functions built on the printed passes (`network`), the training loop with early
stopping (`loop`), the gradient check (`gradcheck`) and the command line (`cli`). Each module
imports only NumPy and the standard library (and, relatively, the runtime modules before it in
`codegen.RUNTIME`), so that `codegen` can paste it into a script below the printed part and the
script stays one standalone file. Nothing here imports the rest of symfnn.
"""
