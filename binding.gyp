{
  "targets": [
    {
      "target_name": "torch_caption",
      "sources": ["<!@(node scripts/gyp-info.cjs sources)"],
      "include_dirs": [
        "native",
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node scripts/gyp-info.cjs include)"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_CPP_EXCEPTIONS_ALL", "NODE_ADDON_API_DISABLE_DEPRECATED", "TC_TORCH_DIR=\"<!(node scripts/gyp-info.cjs libdir)\"", "TC_ADDON_VERSION=\"<!(node -p \"require('./package.json').version\")\""],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++1y", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O2", "-fopenmp", "-ffp-contract=off", "-D_GLIBCXX_USE_CXX11_ABI=1"],
      "ldflags": ["-fopenmp"],
      "libraries": [
        "-L<!(node scripts/gyp-info.cjs libdir)",
        "-Wl,--no-as-needed", "-ltorch", "-ltorch_cpu", "-lc10",
        "-Wl,-rpath,<!(node scripts/gyp-info.cjs libdir)"
      ]
    }
  ]
}
