"""An example edgeway middleware plugin: the ``stamp`` middleware.

See the README of this distribution: it is the plugin-author tutorial.
"""

from edgeway_example_middleware.stamp import StampOptions, build_stamp

__all__ = ["StampOptions", "build_stamp"]
