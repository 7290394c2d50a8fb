"""OSS-Instruct (Magicoder, arXiv 2312.02120): instruction data written by a teacher model, each
item inspired by a random snippet of the clean corpus. An optional branch after `quality`.

data/clean -> data/instruct/instruct.jsonl (+ drops.jsonl with a reason per dropped seed).

Public API (plain Python, no Prefect/DVC):
- `config_from_params(section) -> Config` (`Config.enabled`: a teacher endpoint is configured)
- `draw_seeds(clean_dir, quotas, seed, min_lines, max_lines) -> (seeds, counts)`
- `build_messages(snippet, lang, with_tests)`, `parse_answer(text)`, `check_code(code, lang, share)`
- `TeacherClient(cfg.teacher, ResponseCache(cfg.cache_dir), api_key=...)`
- `generate(cfg, clean_dir, out_dir, ...) -> StageResult`, `write_disabled(out_dir)`
"""
from tasks.oss_instruct.build import REASONS, build, metrics
from tasks.oss_instruct.config import ENV_API_KEY, ENV_BASE_URL, Config, config_from_params
from tasks.oss_instruct.parse import parse_answer
from tasks.oss_instruct.prompt import build_messages, cache_key
from tasks.oss_instruct.seeds import Seed, draw_seeds
from tasks.oss_instruct.stage import StageResult, generate, write_disabled
from tasks.oss_instruct.teacher import ResponseCache, TeacherClient, TeacherError
from tasks.oss_instruct.validate import check_code

__all__ = ["REASONS", "build", "metrics", "ENV_API_KEY", "ENV_BASE_URL", "Config", "config_from_params",
           "parse_answer", "build_messages", "cache_key", "Seed", "draw_seeds", "StageResult", "generate",
           "write_disabled", "ResponseCache", "TeacherClient", "TeacherError", "check_code"]
