"""Calls under each setting of a kernel module's switch: which loop a kernel takes
(window's PAIRS_VBMI, PAIRS_MEAN_BW, QUADS_AVX512) or which SIMD variant (roi's
SIMD).  The tests use them to check every path the machine runs, the ones it would
otherwise skip included."""


def under_each(module, name, settings, call):
    """[call() with ``module.name`` set to each of ``settings``], in order.  The switch
    is put back to its value before the call whatever happens."""
    saved = getattr(module, name)
    results = []
    try:
        for setting in settings:
            setattr(module, name, setting)
            results.append(call())
    finally:
        setattr(module, name, saved)
    return results


def machine_settings(module, name):
    """The settings of a boolean switch this machine runs: False (the portable loop)
    and, where the machine has the instructions (the switch is True on import), True."""
    return sorted({False, getattr(module, name)})
