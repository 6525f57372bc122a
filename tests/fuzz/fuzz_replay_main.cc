// A main() for libFuzzer targets built without libFuzzer: it runs
// LLVMFuzzerTestOneInput once on an empty input and once on every corpus file,
// so each fuzz target doubles as a regression test under gcc (the Envoy
// arrangement). Shared by every fuzzer in this package.
//
// Usage: <target>_replay [PATH...]   (no PATH: the ':'-separated list in
// $FUZZ_CORPUS) A PATH is a file or a directory, read recursively. Exits
// non-zero when no file is found, so a corpus that went missing fails the test
// instead of passing it vacuously. A finding aborts inside
// LLVMFuzzerTestOneInput; the line printed before each input names it.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
// Optional in a fuzz target, as in libFuzzer.
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc,
                                                          char*** argv);

namespace {

namespace fs = std::filesystem;

std::vector<std::string> CorpusPaths(int argc, char** argv) {
  std::vector<std::string> paths(argv + 1, argv + argc);
  if (!paths.empty()) return paths;
  const char* env = std::getenv("FUZZ_CORPUS");
  if (env == nullptr) return paths;
  std::string list = env;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = std::min(list.find(':', start), list.size());
    if (end > start) paths.push_back(list.substr(start, end - start));
    start = end + 1;
  }
  return paths;
}

// Sorted, so that runs are reproducible whatever order the file system lists.
bool CollectFiles(const std::vector<std::string>& paths,
                  std::vector<fs::path>* files) {
  for (const std::string& path : paths) {
    std::error_code ec;
    if (fs::is_regular_file(path, ec)) {
      files->push_back(path);
      continue;
    }
    if (!fs::is_directory(path, ec)) {
      std::fprintf(stderr,
                   "fuzz_replay: %s is neither a file nor a directory\n",
                   path.c_str());
      return false;
    }
    // Bazel's runfiles are symlinks, hence follow_directory_symlink and the
    // stat-based is_regular_file below.
    for (fs::recursive_directory_iterator
             it(path, fs::directory_options::follow_directory_symlink, ec),
         end;
         !ec && it != end; it.increment(ec)) {
      if (fs::is_regular_file(it->path(), ec)) files->push_back(it->path());
    }
    if (ec) {
      std::fprintf(stderr, "fuzz_replay: reading %s: %s\n", path.c_str(),
                   ec.message().c_str());
      return false;
    }
  }
  std::sort(files->begin(), files->end());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
  std::vector<fs::path> files;
  if (!CollectFiles(CorpusPaths(argc, argv), &files)) return 2;
  if (files.empty()) {
    std::fprintf(
        stderr,
        "fuzz_replay: no corpus files (give paths or set FUZZ_CORPUS)\n");
    return 2;
  }
  LLVMFuzzerTestOneInput(nullptr, 0);
  for (const fs::path& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "fuzz_replay: cannot open %s\n", file.c_str());
      return 2;
    }
    const std::string bytes((std::istreambuf_iterator<char>(in)),
                            std::istreambuf_iterator<char>());
    std::fprintf(stderr, "fuzz_replay: %s (%zu bytes)\n", file.c_str(),
                 bytes.size());
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()),
                           bytes.size());
  }
  std::fprintf(stderr, "fuzz_replay: %zu inputs passed\n", files.size());
  return 0;
}
