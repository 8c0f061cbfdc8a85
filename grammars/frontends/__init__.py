"""Front-ends that turn what a user writes into Lark grammar text: Python regexes
(:mod:`.regex_pattern`) and the llguidance / OpenAI Lark dialect (:mod:`.llguidance`)."""
