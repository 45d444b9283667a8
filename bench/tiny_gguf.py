"""Write a tiny llama-architecture GGUF with random weights: a model made here, not downloaded.

    python bench/tiny_gguf.py OUT.gguf [--layers 2] [--embd 64] [--ff 128] [--heads 4] [--seed 0]

Runs with the ``gguf`` package (the interpreter of the llama-cpp-python environment, see
``bench/llm_engine.py``). The tokenizer is a SentencePiece-style ("llama") vocabulary: <unk>, <s>, </s>,
the ASCII byte tokens and a few hundred common words; the weights are small random numbers. It generates
nonsense at the speed a model of that size runs at, which is what a serving benchmark needs: the engine's
real HTTP server, scheduler, sampling and streaming, on a model small enough for a CI machine's CPU.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "loadgen"))
from prompts import WORDS  # noqa: E402  (the generated prompts' words: one token each here too)


def vocabulary() -> tuple[list[str], list[float], list[int]]:
    """tokens, scores, types (gguf.TokenType: NORMAL 1, UNKNOWN 2, CONTROL 3, BYTE 6)."""
    # Byte tokens for ASCII only: a random model that picks a byte >= 0x80 streams half a UTF-8 character, which
    # servers send as an empty delta (not a token to a client). The prompts and chat templates are ASCII.
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(128)]
    types = [2, 3, 3] + [6] * 128
    words = sorted({"▁" + w for w in WORDS} | set(WORDS) | {"▁"})
    tokens += words
    types += [1] * len(words)
    scores = [0.0] * (3 + 128) + [-float(i) for i in range(len(words))]
    return tokens, scores, types


def main() -> None:
    import gguf

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--embd", type=int, default=64)
    p.add_argument("--ff", type=int, default=128)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--context", type=int, default=2048)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    rng = np.random.default_rng(a.seed)
    tokens, scores, types = vocabulary()
    n_vocab, d, ff = len(tokens), a.embd, a.ff

    def w(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    writer = gguf.GGUFWriter(a.out, "llama")
    writer.add_name("streamflow-tiny-random")
    writer.add_context_length(a.context)
    writer.add_embedding_length(d)
    writer.add_block_count(a.layers)
    writer.add_feed_forward_length(ff)
    writer.add_head_count(a.heads)
    writer.add_head_count_kv(a.heads)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(d // a.heads)
    writer.add_file_type(0)  # all F32
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_tensor("token_embd.weight", w(n_vocab, d))
    writer.add_tensor("output_norm.weight", np.ones(d, dtype=np.float32))
    writer.add_tensor("output.weight", w(n_vocab, d))
    for i in range(a.layers):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(d, dtype=np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            writer.add_tensor(f"blk.{i}.{name}.weight", w(d, d))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(d, dtype=np.float32))
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", w(ff, d))
        writer.add_tensor(f"blk.{i}.ffn_up.weight", w(ff, d))
        writer.add_tensor(f"blk.{i}.ffn_down.weight", w(d, ff))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    print(f"{a.out}: {n_vocab} tokens, {a.layers} layers, embedding {d}")


if __name__ == "__main__":
    main()
