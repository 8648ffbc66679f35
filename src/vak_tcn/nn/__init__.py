"""vak-tcn's networks and losses, pure PyTorch.

* :mod:`.tcn`: :class:`TemporalBlock`, :class:`TCNStack`, :func:`receptive_field`, the
  shared :class:`FrameClassifier` and the :class:`TCN` network;
* :mod:`.layers`: what they are built of: the frame layout, :class:`FrameConv1d`,
  :class:`Dropout`, the checks of the network table's values;
* :mod:`.convtcn`: :class:`ConvTCN` (TweetyNet's front end + TCN);
* :mod:`.stages`: MS-TCN's refinement stages (:class:`RefinementStage`), built by
  :class:`FrameClassifier` for the network table's ``stages``;
* :mod:`.losses`: cross-entropy with TMSE / GS-TMSE smoothing.
"""

from .convtcn import ConvTCN
from .layers import Dropout
from .losses import SmoothedCrossEntropy, gaussian_similarity_weights, tmse
from .stages import RefinementStage
from .tcn import TCN, FrameClassifier, TCNStack, TemporalBlock, inference_copy, receptive_field

__all__ = [
    "ConvTCN",
    "Dropout",
    "FrameClassifier",
    "RefinementStage",
    "SmoothedCrossEntropy",
    "TCN",
    "TCNStack",
    "TemporalBlock",
    "gaussian_similarity_weights",
    "inference_copy",
    "receptive_field",
    "tmse",
]
