"""A repository rule exposing Debian-installed C++ libraries as cc_library targets.

Headers live in /usr/include, which the auto-configured toolchain already searches, so each
target only carries the link flags that pkg-config reports (or plain -l flags for the few
libraries that ship no .pc file).
"""

# target name -> (pkg-config modules, extra linkopts)
_LIBS = {
    "absl": ([
        "absl_base",
        "absl_flags",
        "absl_flags_parse",
        "absl_flags_usage",
        "absl_random_random",
        "absl_status",
        "absl_statusor",
        "absl_str_format",
        "absl_strings",
        "absl_synchronization",
        "absl_time",
        "absl_hash",
        "absl_raw_hash_set",
        "absl_cleanup",
    ], []),
    "benchmark": (["benchmark"], []),
    "benchmark_main": (["benchmark"], ["-lbenchmark_main"]),
    "boost": ([], ["-lpthread"]),
    "boost_json": ([], ["-lboost_json"]),
    # Content-Encoding br (PX-07); the encoder only for tests' fake upstreams.
    "brotli": (["libbrotlidec"], []),
    "brotli_enc": (["libbrotlienc"], []),
    "grpc++": (["grpc++", "protobuf"], []),
    "grpc++_reflection": (["grpc++"], ["-lgrpc++_reflection"]),
    "gtest": (["gtest", "gmock"], []),
    "gtest_main": (["gtest", "gmock", "gtest_main"], []),
    "openssl": (["openssl"], []),
    "prometheus_core": (["prometheus-cpp-core"], []),
    "protobuf": (["protobuf"], []),
    # Content-Encoding gzip and deflate (PX-07).
    "zlib": (["zlib"], []),
}

# target name -> extra dependency under --config=tsan (--define=shadowcat_tsan=1): ThreadSanitizer
# support for these uninstrumented libraries (third_party/tsan_absl).
_TSAN_SETTING = "@//third_party/tsan_absl:enabled"
_TSAN_DEPS = {
    "absl": "@//third_party/tsan_absl",
    "grpc++": "@//third_party/tsan_absl",
}

def _pkg_config_libs(ctx, modules):
    if not modules:
        return []
    result = ctx.execute(["pkg-config", "--libs"] + modules)
    if result.return_code != 0:
        fail("pkg-config --libs %s failed (run scripts/bootstrap.sh): %s" %
             (" ".join(modules), result.stderr))
    return result.stdout.strip().split(" ")

def _system_libs_impl(ctx):
    lines = ['package(default_visibility = ["//visibility:public"])', ""]
    for name, (modules, extra) in _LIBS.items():
        # Tests link each cc_library as its own .so, which carries no linkopts; keep every
        # system library on the final link even when only such a .so uses it.
        linkopts = (["-Wl,--no-as-needed"] + [f for f in _pkg_config_libs(ctx, modules) if f] +
                    extra + ["-Wl,--as-needed"])
        lines.append("cc_library(")
        lines.append('    name = "%s",' % name)
        lines.append("    linkopts = %s," % repr(linkopts))
        if name in _TSAN_DEPS:
            lines.append("    deps = select({")
            lines.append('        "%s": ["%s"],' % (_TSAN_SETTING, _TSAN_DEPS[name]))
            lines.append('        "//conditions:default": [],')
            lines.append("    }),")
        lines.append(")")
        lines.append("")
    ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)
    ctx.file("BUILD.bazel", "\n".join(lines))

system_libs = repository_rule(
    implementation = _system_libs_impl,
    local = True,
    environ = ["PKG_CONFIG_PATH"],
)
