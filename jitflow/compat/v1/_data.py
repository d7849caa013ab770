"""Wires the input pipelines and the training loop into the ``tf`` namespace: ``tf.data``,
the queue readers and string ops, ``tf.train``'s loop (MonitoredTrainingSession, hooks,
Supervisor, Coordinator, queue runners, Example protos), ``tf.io``/``tf.python_io``,
``tf.app``/``tf.flags``, ``tf.logging`` and ``tf.gfile``."""
from __future__ import annotations

import sys
import types as _types

from ...frontend import app as _app
from ...frontend import gfile as _gfile
from ...frontend import queues as _queues
from ...frontend import tf_logging as _logging
from ...frontend import training as _training
from ...frontend.data import dataset as _dataset
from ...frontend.data import example as _example
from ...frontend.data import hostfeed as _hostfeed
from ...frontend.data import iterator as _iterator
from ...frontend.data import string_format as _string_format
from ...frontend.data import string_ops as _string_ops
from ...frontend.data import strings as _strings
from ...frontend.data import structure as _structure
from ...frontend.data import tfrecord as _tfrecord
from ...frontend.graph import GraphKeys as _GraphKeys

_tf = sys.modules[__name__.rsplit(".", 1)[0]]
__all__: list = []       # everything is set on the tf namespace itself


def _ns(name: str) -> _types.SimpleNamespace:
    ns = getattr(_tf, name, None)
    if ns is None:
        ns = _types.SimpleNamespace()
        setattr(_tf, name, ns)
    return ns


def _put(ns: object, **names: object) -> None:
    for k, v in names.items():
        if not hasattr(ns, k):
            setattr(ns, k, v)


for _k, _v in (("QUEUE_RUNNERS", "queue_runners"), ("LOCAL_INIT_OP", "local_init_op"),
               ("SUMMARY_OP", "summary_op"), ("READY_OP", "ready_op")):
    if not hasattr(_GraphKeys, _k):
        setattr(_GraphKeys, _k, _v)

_put(_tf, string=_structure.string)

_plain_placeholder = _tf.placeholder


def placeholder(dtype: object, shape: object = None, name: object = None) -> object:
    """``tf.placeholder``; ``tf.string`` ones are host string tensors (file names, iterator
    handles) that only tf.data, the queues and the string ops consume."""
    if _structure.is_string(dtype):
        return _hostfeed.string_placeholder(shape, name)
    return _plain_placeholder(dtype, shape=shape, name=name)


placeholder.__wrapped__ = _plain_placeholder
_tf.placeholder = placeholder

_plain_constant = _tf.constant


def constant(value: object, dtype: object = None, shape: object = None, name: object = "Const",
             verify_shape: bool = False) -> object:
    """``tf.constant``; a string value (or ``dtype=tf.string``) is a host string tensor."""
    if _structure.is_string(dtype) or (dtype is None and _string_ops.is_text(value)):
        return _string_ops.string_constant(value, shape, name)
    return _plain_constant(value, dtype=dtype, shape=shape, name=name, verify_shape=verify_shape)


constant.__wrapped__ = _plain_constant
_tf.constant = constant

data = _types.SimpleNamespace(
    Dataset=_dataset.Dataset, DatasetV1=_dataset.Dataset, Iterator=_iterator.Iterator,
    TFRecordDataset=_tfrecord.TFRecordDataset, TextLineDataset=_tfrecord.TextLineDataset,
    make_one_shot_iterator=_iterator.make_one_shot_iterator,
    make_initializable_iterator=_iterator.make_initializable_iterator,
    get_output_types=_iterator.get_output_types, get_output_shapes=_iterator.get_output_shapes,
    experimental=_types.SimpleNamespace(AUTOTUNE=_dataset.AUTOTUNE,
                                        shuffle_and_repeat=_dataset.shuffle_and_repeat,
                                        map_and_batch=_dataset.map_and_batch),
    AUTOTUNE=_dataset.AUTOTUNE)
_put(_tf, data=data)

_put(_tf, FIFOQueue=_queues.FIFOQueue, RandomShuffleQueue=_queues.RandomShuffleQueue,
     PaddingFIFOQueue=_queues.PaddingFIFOQueue, QueueBase=_queues.QueueBase,
     TextLineReader=_queues.TextLineReader, TFRecordReader=_queues.TFRecordReader,
     WholeFileReader=_queues.WholeFileReader, ReaderBase=_queues.ReaderBase,
     decode_csv=_string_ops.decode_csv, decode_raw=_string_ops.decode_raw,
     parse_single_example=_string_ops.parse_single_example,
     parse_example=_string_ops.parse_example, FixedLenFeature=_string_ops.FixedLenFeature,
     VarLenFeature=_string_ops.VarLenFeature, string_to_number=_string_ops.string_to_number)

strings = _types.SimpleNamespace(
    join=_strings.join, length=_strings.length, lower=_strings.lower, upper=_strings.upper,
    strip=_strings.strip, regex_replace=_strings.regex_replace, substr=_strings.substr,
    reduce_join=_strings.reduce_join, to_number=_string_ops.string_to_number,
    as_string=_string_format.as_string, split=_string_format.split)
_put(_tf, strings=strings, string_join=_strings.join, regex_replace=_strings.regex_replace,
     substr=_strings.substr, reduce_join=_strings.reduce_join, string_strip=_strings.strip,
     as_string=_string_format.as_string, string_split=_string_format.string_split,
     SparseTensor=_string_format.SparseTensor,
     SparseTensorValue=_string_format.SparseTensorValue)

_queue_runner = _types.SimpleNamespace(QueueRunner=_queues.QueueRunner,
                                       add_queue_runner=_queues.add_queue_runner,
                                       start_queue_runners=_queues.start_queue_runners)
_train_names = dict(
    Coordinator=_training.Coordinator, LooperThread=_training.LooperThread,
    QueueRunner=_queues.QueueRunner, add_queue_runner=_queues.add_queue_runner,
    start_queue_runners=_queues.start_queue_runners, queue_runner=_queue_runner,
    string_input_producer=_queues.string_input_producer,
    slice_input_producer=_queues.slice_input_producer,
    range_input_producer=_queues.range_input_producer, batch=_queues.batch,
    match_filenames_once=_queues.match_filenames_once,
    shuffle_batch=_queues.shuffle_batch,
    Example=_example.Example, Features=_example.Features, Feature=_example.Feature,
    BytesList=_example.BytesList, FloatList=_example.FloatList, Int64List=_example.Int64List,
)
for _name in ("MonitoredTrainingSession", "MonitoredSession", "SingularMonitoredSession",
              "Scaffold", "SessionCreator", "ChiefSessionCreator", "WorkerSessionCreator",
              "SessionRunHook", "SessionRunArgs", "SessionRunContext", "SessionRunValues",
              "SecondOrStepTimer", "StopAtStepHook", "CheckpointSaverHook",
              "CheckpointSaverListener", "SummarySaverHook", "LoggingTensorHook", "NanTensorHook",
              "NanLossDuringTrainingError", "StepCounterHook", "FinalOpsHook", "FeedFnHook",
              "GlobalStepWaiterHook", "Supervisor"):
    _train_names[_name] = getattr(_training, _name)
_put(_ns("train"), **_train_names)

_io = _ns("io")
_put(_io, parse_single_example=_string_ops.parse_single_example,
     parse_example=_string_ops.parse_example, FixedLenFeature=_string_ops.FixedLenFeature,
     VarLenFeature=_string_ops.VarLenFeature, decode_raw=_string_ops.decode_raw,
     decode_csv=_string_ops.decode_csv, TFRecordWriter=_tfrecord.TFRecordWriter,
     TFRecordOptions=_tfrecord.TFRecordOptions, tf_record_iterator=_tfrecord.tf_record_iterator,
     gfile=_gfile)
_put(_tf, python_io=_types.SimpleNamespace(
    TFRecordWriter=_tfrecord.TFRecordWriter, TFRecordOptions=_tfrecord.TFRecordOptions,
    TFRecordCompressionType=_tfrecord.TFRecordCompressionType,
    tf_record_iterator=_tfrecord.tf_record_iterator))

_put(_tf, app=_types.SimpleNamespace(flags=_app, run=_app.run), flags=_app, logging=_logging,
     gfile=_gfile)
_put(_tf, compat=_types.SimpleNamespace(v1=_tf))
