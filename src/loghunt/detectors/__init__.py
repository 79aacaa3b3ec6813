"""Detectors: one module per family, all reachable by name through the registry.

>>> from loghunt.detectors import available_detectors, make_detector
>>> "lof" in available_detectors()
True
>>> make_detector("lof", n_neighbors=35).n_neighbors
35
"""

from loghunt.detectors.autoencoder import AutoEncoderDetector
from loghunt.detectors.base import Detector, check_matrix
from loghunt.detectors.cblof import CBLOFDetector
from loghunt.detectors.copod import COPODDetector
from loghunt.detectors.ecod import ECODDetector
from loghunt.detectors.gmm import GMMDetector
from loghunt.detectors.hbos import HBOSDetector
from loghunt.detectors.iforest import IForestDetector
from loghunt.detectors.inne import INNEDetector
from loghunt.detectors.kmeans import KMeansDetector
from loghunt.detectors.knn import KNNDetector
from loghunt.detectors.loda import LODADetector
from loghunt.detectors.lof import LOFDetector
from loghunt.detectors.mahalanobis import MahalanobisDetector
from loghunt.detectors.ocsvm import OCSVMDetector
from loghunt.detectors.pca import PCADetector
from loghunt.detectors.pyod_adapter import PyODDetector
from loghunt.detectors.registry import (
    available_detectors,
    detector_class,
    make_detector,
    register,
)
from loghunt.detectors.robust_z import RobustZDetector
from loghunt.detectors.rod import RODDetector

__all__ = [
    "AutoEncoderDetector",
    "CBLOFDetector",
    "COPODDetector",
    "Detector",
    "ECODDetector",
    "GMMDetector",
    "HBOSDetector",
    "IForestDetector",
    "INNEDetector",
    "KMeansDetector",
    "KNNDetector",
    "LODADetector",
    "LOFDetector",
    "MahalanobisDetector",
    "OCSVMDetector",
    "PCADetector",
    "PyODDetector",
    "RODDetector",
    "RobustZDetector",
    "available_detectors",
    "check_matrix",
    "detector_class",
    "make_detector",
    "register",
]
