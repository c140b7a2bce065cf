"""The error of the genome package (its own module, so that ``space`` and ``layout`` share it)."""


class SpaceError(ValueError):
    """Invalid search-space setting or genome; the message is one line naming the key."""


__all__ = ["SpaceError"]
