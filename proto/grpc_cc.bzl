"""cc + gRPC code generation with Debian's protoc and grpc_cpp_plugin.

Bazel's native proto_library wants a protobuf repository, which would be a download; this
macro calls the system protoc instead and wraps the generated files in a cc_library.
"""

def grpc_cc_library(name, src, deps = [], visibility = None):
    """Generates <src>.pb.{h,cc} and <src>.grpc.pb.{h,cc}; `src` is relative to this package."""
    base = src[:-len(".proto")]
    outs = [base + ext for ext in [".pb.h", ".pb.cc", ".grpc.pb.h", ".grpc.pb.cc"]]
    native.genrule(
        name = name + "_gen",
        srcs = [src],
        outs = outs,
        cmd = " ".join([
            "/usr/bin/protoc",
            "--plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin",
            "-I" + native.package_name(),
            "--cpp_out=$(GENDIR)/" + native.package_name(),
            "--grpc_out=$(GENDIR)/" + native.package_name(),
            "$(location " + src + ")",
        ]),
    )
    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        includes = ["."],
        deps = deps + ["@system//:grpc++"],
        visibility = visibility,
    )
