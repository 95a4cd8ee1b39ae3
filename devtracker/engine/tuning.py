"""Process settings for a server: eventlet's per-connection buffers and the garbage collector.

- `small_buffers`: eventlet's WSGI server keeps a request reader (8 KiB) and a response writer
  (16 KiB) per connection for its whole life, though a websocket stops using them after the
  upgrade. 1 KiB each: a REST call's head and body take one or two reads, a larger answer is
  written through (TCP_NODELAY, server.listen, makes a second send cost no wait).
- `tune_garbage_collection`: everything alive after start-up is frozen out of the collector's
  sight (modules, functions, classes: full collections no longer walk them), and the middle
  generation is collected ten times less often (GC_THRESHOLDS), so the objects of requests in
  flight are not promoted to the oldest generation and do not bring on full collections.
"""
import gc

BUFFER_BYTES = 1024
# Collect the middle generation every 100 young collections instead of Python's 10.
GC_THRESHOLDS = (700, 100, 10)


def small_buffers(size=BUFFER_BYTES):
    """Set eventlet.wsgi.HttpProtocol's reader and writer buffer sizes (class attributes)."""
    import eventlet.wsgi

    eventlet.wsgi.HttpProtocol.rbufsize = size
    eventlet.wsgi.HttpProtocol.wbufsize = size
    return True


def tune_garbage_collection():
    """GC_THRESHOLDS, then a collection, then everything alive frozen."""
    gc.set_threshold(*GC_THRESHOLDS)
    gc.collect()
    gc.freeze()
    return True
