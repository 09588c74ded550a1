"""eddy's Lambda runner: runs a Python file written for AWS Lambda as a Firehose transform.

    python3 lambda_runner.py <file.py> [handler]   (the event JSON on stdin, the result on stdout)

The file is imported unmodified and its handler (default lambda_handler) called once per batch with
the Firehose transformation event and a context object like Lambda's.
"""
import importlib.util
import json
import os
import sys
import time
import uuid


class Context:
    def __init__(self, function_name, timeout_ms):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:" + function_name
        self.memory_limit_in_mb = "128"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = "/aws/lambda/" + function_name
        self.log_stream_name = "eddy"
        self._deadline = time.monotonic() + timeout_ms / 1000.0

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main():
    path = sys.argv[1]
    handler_name = sys.argv[2] if len(sys.argv) > 2 else "lambda_handler"
    timeout_ms = int(os.environ.get("EDDY_LAMBDA_TIMEOUT_MS", "60000"))
    spec = importlib.util.spec_from_file_location("eddy_lambda_function", path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    spec.loader.exec_module(module)
    handler = getattr(module, handler_name)
    event = json.load(sys.stdin)
    # print() in a handler goes to the logs, not into the result.
    real_stdout, sys.stdout = sys.stdout, sys.stderr
    try:
        result = handler(event, Context(os.path.splitext(os.path.basename(path))[0], timeout_ms))
    finally:
        sys.stdout = real_stdout
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
