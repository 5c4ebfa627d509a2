"""Task 'seq2seq': encoder-decoders. task.py (the Task), module.py (teacher forcing, greedy val), data.py
(recipe -> pairs, model), evaluate.py (greedy vs beam on test, attention evidence), predict.py (`rnnlab
translate` and `rnnlab caption` with a finished run)."""
