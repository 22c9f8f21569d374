"""What a wrapper's reset(seed, options) means for afsim's episodes, one
rule for the Gymnasium and PettingZoo wrappers: afsim's draws are keyed by
(seed, episode word, slot), so a reset picks an episode word."""
import numpy as np


def seed_of(seed):
    """seed as afsim's: None, or an integer in [0, 2^32)."""
    if seed is None:
        return None
    if isinstance(seed, (list, tuple, np.ndarray)):
        raise ValueError("afsim seeds all of its environments with one integer (the "
                         "environments differ by their index): give seed=int")
    seed = int(seed)
    if not 0 <= seed < 2 ** 32:
        raise ValueError(f"seed = {seed}: afsim's seeds are integers from 0 to 2^32 - 1")
    return seed


def episode_word(seed, options, seeded, previous):
    """options["episode"] when given; 0 with a new seed or at the first reset
    (`seeded` false: afsim run's first test episode); else `previous` + 1."""
    if options and "episode" in options:
        return int(options["episode"])
    if seed is not None or not seeded:
        return 0
    return previous + 1
