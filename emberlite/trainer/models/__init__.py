"""Models: `Model` (functional or subclassed) and `Sequential`."""

from emberlite.trainer.models.functional import Functional
from emberlite.trainer.models.model import Model
from emberlite.trainer.models.sequential import Sequential
