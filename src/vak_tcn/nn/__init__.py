"""vak-tcn's networks and losses, pure PyTorch.

* :mod:`.tcn`: :class:`TemporalBlock`, :class:`TCNStack`, :func:`receptive_field`, the
  shared :class:`FrameClassifier` and the :class:`TCN` network;
* :mod:`.convtcn`: :class:`ConvTCN` (TweetyNet's front end + TCN);
* :mod:`.losses`: cross-entropy with TMSE / GS-TMSE smoothing.
"""

from .convtcn import ConvTCN
from .losses import SmoothedCrossEntropy, gaussian_similarity_weights, tmse
from .tcn import TCN, Dropout, FrameClassifier, TCNStack, TemporalBlock, inference_copy, receptive_field

__all__ = [
    "ConvTCN",
    "Dropout",
    "FrameClassifier",
    "SmoothedCrossEntropy",
    "TCN",
    "TCNStack",
    "TemporalBlock",
    "gaussian_similarity_weights",
    "inference_copy",
    "receptive_field",
    "tmse",
]
