#include "addon/process_group.h"

#include <torch/version.h>

#include <cstdlib>
#include <functional>
#include <utility>

// c10d is part of libtorch itself (1.13 and 2.x); its Gloo header needs gloo's own headers, which Debian
// ships in libgloo-dev (scripts/setup.mjs installs it) and PyTorch's wheels may lack. Without them this
// build has no CPU backend and says so.
#if __has_include(<torch/csrc/distributed/c10d/TCPStore.hpp>)
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#define TC_WITH_C10D 1
#endif
#if defined(TC_WITH_C10D) && __has_include(<gloo/context.h>)
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#define TC_WITH_GLOO 1
#endif
#if defined(TC_WITH_C10D) && defined(TC_WITH_CUDA) && __has_include(<nccl.h>)
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#define TC_WITH_NCCL 1
#endif

#include "addon/bridge.h"
#include "addon/jobs.h"
#include "errors.h"

namespace tc {

#ifdef TC_WITH_C10D
// 2.x split the collectives out of ProcessGroup into Backend; Gloo and NCCL derive from whichever it is.
#if TORCH_VERSION_MAJOR >= 2
using C10dGroup = c10d::Backend;
#else
using C10dGroup = c10d::ProcessGroup;
#endif

struct ProcessGroup::Backend {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<C10dGroup> group;
};

namespace {

c10d::ReduceOp c10d_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kMin: return c10d::ReduceOp::MIN;
    case ReduceOp::kMax: return c10d::ReduceOp::MAX;
    case ReduceOp::kSum: break;
  }
  return c10d::ReduceOp::SUM;
}

bool is_loopback(const std::string& addr) { return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1"; }

#ifdef TC_WITH_GLOO
// Gloo binds to one interface: GLOO_SOCKET_IFNAME when set (as in PyTorch), loopback when the master is on
// loopback (single-node runs never leave the machine), else the address the host name resolves to.
std::shared_ptr<::gloo::transport::Device> gloo_device(const std::string& master_addr) {
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
    return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  if (is_loopback(master_addr)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}
#endif

c10::intrusive_ptr<C10dGroup> make_group(const ProcessGroupOptions& o, const c10::intrusive_ptr<c10d::Store>& store) {
  const int rank = int(o.rank), size = int(o.world_size);
  if (o.backend == "gloo") {
#ifdef TC_WITH_GLOO
    auto opts = c10d::ProcessGroupGloo::Options::create(o.timeout);
    opts->devices.push_back(gloo_device(o.master_addr));
    return c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, size, opts);
#endif
  } else if (o.backend == "nccl") {
#ifdef TC_WITH_NCCL
    auto opts = c10d::ProcessGroupNCCL::Options::create();
    opts->timeout = o.timeout;
    return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, size, opts);
#endif
  }
  throw ArgumentError("this build of torch-caption has no '" + o.backend + "' backend (" +
                      (o.backend == "nccl" ? "NCCL needs a CUDA build of libtorch with nccl.h" : "Gloo needs gloo's headers at build time: apt-get install libgloo-dev, then rebuild") + ")");
}

}  // namespace
#else
struct ProcessGroup::Backend {};
#endif

std::vector<std::string> ProcessGroup::available_backends() {
  std::vector<std::string> out;
#ifdef TC_WITH_GLOO
  out.push_back("gloo");
#endif
#ifdef TC_WITH_NCCL
  out.push_back("nccl");
#endif
  return out;
}

ProcessGroup::ProcessGroup(ProcessGroupOptions options, torch::Device device, std::unique_ptr<Backend> backend)
    : options_(std::move(options)), device_(device), backend_(std::move(backend)) {}

ProcessGroup::~ProcessGroup() = default;

std::shared_ptr<ProcessGroup> ProcessGroup::connect(const ProcessGroupOptions& o) {
#ifdef TC_WITH_C10D
  auto backend = std::make_unique<Backend>();
  c10d::TCPStoreOptions store_opts;
  store_opts.port = uint16_t(o.master_port);
  store_opts.isServer = o.rank == 0;
  store_opts.numWorkers = size_t(o.world_size);
  store_opts.waitWorkers = true;
  store_opts.timeout = o.timeout;
  try {
    backend->store = c10::make_intrusive<c10d::TCPStore>(o.master_addr, store_opts);
    backend->group = make_group(o, backend->store);
  } catch (const ArgumentError&) {
    throw;
  } catch (const std::exception& e) {
    const std::string what = dynamic_cast<const c10::Error*>(&e) ? static_cast<const c10::Error&>(e).what_without_backtrace() : e.what();
    throw DistributedError("rank " + std::to_string(o.rank) + " of " + std::to_string(o.world_size) + " could not join the process group at " +
                           o.master_addr + ":" + std::to_string(o.master_port) + " (" + what + "). Check that every rank uses the same " +
                           "MASTER_ADDR, MASTER_PORT and WORLD_SIZE, that rank 0 is running and the port is free on its machine.");
  }
  return std::shared_ptr<ProcessGroup>(new ProcessGroup(o, torch::Device(o.device), std::move(backend)));
#else
  throw ArgumentError("this libtorch has no c10d headers, so torch-caption was built without distributed training");
#endif
}

void ProcessGroup::fail(const char* collective, const std::string& why) const {
  throw DistributedError(std::string(collective) + " failed on rank " + std::to_string(rank()) + " of " + std::to_string(world_size()) + " (" +
                         backend() + "): " + why + ". Another rank has probably exited (its output says why) or become unreachable; " +
                         "every rank stops. Fix the cause and relaunch: the run resumes from its last checkpoint.");
}

#ifdef TC_WITH_C10D
// Issues one collective (`issue` returns its c10d Work) under the order lock and waits for it; c10d's failures
// (a closed connection, a timeout, a bad tensor) become DistributedError naming the collective.
template <typename Issue>
void run_collective(std::mutex& order, const char* collective, Issue&& issue, const std::function<void(const char*, const std::string&)>& fail) {
  std::lock_guard<std::mutex> g(order);
  try {
    issue()->wait();
  } catch (const c10::Error& e) {
    fail(collective, e.what_without_backtrace());
  } catch (const std::exception& e) {
    fail(collective, e.what());
  }
}
#endif

void ProcessGroup::all_reduce(torch::Tensor& tensor, ReduceOp op) {
#ifdef TC_WITH_C10D
  std::vector<torch::Tensor> ts{tensor};
  c10d::AllreduceOptions opts;
  opts.reduceOp = c10d_op(op);
  run_collective(order_, "all_reduce", [&] { return backend_->group->allreduce(ts, opts); }, [this](const char* c, const std::string& w) { fail(c, w); });
#endif
}

void ProcessGroup::broadcast(torch::Tensor& tensor, int64_t root) {
#ifdef TC_WITH_C10D
  std::vector<torch::Tensor> ts{tensor};
  c10d::BroadcastOptions opts;
  opts.rootRank = root;
  run_collective(order_, "broadcast", [&] { return backend_->group->broadcast(ts, opts); }, [this](const char* c, const std::string& w) { fail(c, w); });
#endif
}

std::vector<torch::Tensor> ProcessGroup::all_gather(const torch::Tensor& tensor) {
#ifdef TC_WITH_C10D
  std::vector<torch::Tensor> in{tensor.contiguous()};
  std::vector<std::vector<torch::Tensor>> out(1);
  for (int64_t r = 0; r < world_size(); ++r) out[0].push_back(torch::empty_like(in[0]));
  run_collective(order_, "all_gather", [&] { return backend_->group->allgather(out, in); }, [this](const char* c, const std::string& w) { fail(c, w); });
  return out[0];
#else
  return {tensor};
#endif
}

void ProcessGroup::barrier() {
#ifdef TC_WITH_C10D
  run_collective(order_, "barrier", [&] { return backend_->group->barrier(); }, [this](const char* c, const std::string& w) { fail(c, w); });
#endif
}

// ---- the JS class ----

namespace {

// The group behind one JS object: set by connect(), dropped by destroy(). Jobs take their own reference, so
// a collective in flight finishes (or fails) before the group goes.
struct GroupState {
  ProcessGroupOptions options;
  std::shared_ptr<Strand> strand = make_strand();

  std::shared_ptr<ProcessGroup> get() const {
    std::lock_guard<std::mutex> g(m_);
    return group_;
  }
  void set(std::shared_ptr<ProcessGroup> group) {
    std::lock_guard<std::mutex> g(m_);
    group_ = std::move(group);
  }

 private:
  mutable std::mutex m_;
  std::shared_ptr<ProcessGroup> group_;
};

ReduceOp parse_reduce_op(const std::string& op) {
  if (op == "min") return ReduceOp::kMin;
  if (op == "max") return ReduceOp::kMax;
  if (op != "sum") throw ArgumentError("reduce op '" + op + "' (lib/train/distributed.ts validates ops)");
  return ReduceOp::kSum;
}

class ProcessGroupWrap : public Napi::ObjectWrap<ProcessGroupWrap> {
 public:
  // new ProcessGroup({rank, world_size, master_addr, master_port, backend, timeout_ms, device}): no I/O until connect().
  explicit ProcessGroupWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProcessGroupWrap>(info) {
    auto o = arg_object(info, 0, "the ProcessGroup options");
    s_ = std::make_shared<GroupState>();
    s_->options.rank = req_int(o, "rank");
    s_->options.world_size = req_int(o, "world_size");
    s_->options.master_addr = req_string(o, "master_addr");
    s_->options.master_port = req_int(o, "master_port");
    s_->options.backend = req_string(o, "backend");
    s_->options.timeout = std::chrono::milliseconds(req_int(o, "timeout_ms"));
    s_->options.device = req_string(o, "device");
  }
  std::shared_ptr<GroupState> state() const { return s_; }

  Napi::Value Connect(const Napi::CallbackInfo& info) {
    auto s = s_;
    return job(info.Env(), [s]() -> Finisher {
      TORCH_CHECK(!s->get(), "connect() called twice (lib/train/distributed.ts guards it)");
      s->set(ProcessGroup::connect(s->options));
      return finish_undefined();
    });
  }

  // allReduce(tensor, op): a reduced copy (the input is the caller's).
  Napi::Value AllReduce(const Napi::CallbackInfo& info) {
    const ReduceOp op = parse_reduce_op(arg_string(info, 1, "allReduce op"));
    return on_copy(info, "allReduce tensor", [op](ProcessGroup& g, torch::Tensor& x) { g.all_reduce(x, op); });
  }

  // broadcast(tensor, root): root's tensor on every rank (the same shape everywhere).
  Napi::Value Broadcast(const Napi::CallbackInfo& info) {
    const int64_t root = info[1].As<Napi::Number>().Int64Value();
    return on_copy(info, "broadcast tensor", [root](ProcessGroup& g, torch::Tensor& x) { g.broadcast(x, root); });
  }

  // allGather(tensor): every rank's tensor, in rank order.
  Napi::Value AllGather(const Napi::CallbackInfo& info) {
    auto t = tensor_from_js(info[0], "allGather tensor");
    auto s = s_;
    return job(info.Env(), [s, t]() -> Finisher {
      auto g = connected(*s);
      std::vector<HostTensor> hosts;
      for (const auto& x : g->all_gather(t.to(g->device()))) hosts.push_back(to_host(x, Ownership::kFresh));
      return [hosts](Napi::Env env) -> Napi::Value {
        auto a = Napi::Array::New(env, hosts.size());
        for (size_t i = 0; i < hosts.size(); ++i) a.Set(uint32_t(i), tensor_to_js(env, hosts[i]));
        return a;
      };
    }, {info[0]});
  }

  Napi::Value Barrier(const Napi::CallbackInfo& info) {
    auto s = s_;
    return job(info.Env(), [s]() -> Finisher {
      connected(*s)->barrier();
      return finish_undefined();
    });
  }

  // destroy(): after the queued collectives; the store and the sockets close when the last job lets go.
  Napi::Value Destroy(const Napi::CallbackInfo& info) {
    auto s = s_;
    return job(info.Env(), [s]() -> Finisher {
      s->set(nullptr);
      return finish_undefined();
    });
  }

 private:
  // A job running the in-place collective `op` on a copy of info[0] on the group's device; resolves with it.
  template <typename Op>
  Napi::Value on_copy(const Napi::CallbackInfo& info, const char* what, Op op) {
    auto t = tensor_from_js(info[0], what);
    auto s = s_;
    return job(info.Env(), [s, t, op]() -> Finisher {
      auto g = connected(*s);
      auto x = t.to(g->device(), /*non_blocking=*/false, /*copy=*/true).contiguous();
      op(*g, x);
      auto host = to_host(x, Ownership::kFresh);
      return [host](Napi::Env env) -> Napi::Value { return tensor_to_js(env, host); };
    }, {info[0]});
  }

  static std::shared_ptr<ProcessGroup> connected(const GroupState& s) {
    auto g = s.get();
    if (!g) throw ArgumentError("the process group is not connected (call connect() first) or was destroyed");
    return g;
  }
  Napi::Promise job(Napi::Env env, std::function<Finisher()> work, std::vector<Napi::Value> keep = {}) {
    return run_job(env, std::move(work), s_->strand, std::move(keep));
  }

  std::shared_ptr<GroupState> s_;
};

}  // namespace

std::shared_ptr<ProcessGroup> process_group_from_js(const Napi::Value& value) {
  // lib/models passes only ProcessGroup handles here (as it does AdamW handles to trainStep).
  if (!value.IsObject()) throw ArgumentError("process_group is not a ProcessGroup");
  auto* wrap = Napi::ObjectWrap<ProcessGroupWrap>::Unwrap(value.As<Napi::Object>());
  auto g = wrap ? wrap->state()->get() : nullptr;
  if (!g) throw ArgumentError("process_group is not connected (await distributed.init() first) or was destroyed");
  return g;
}

void InitProcessGroup(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = ProcessGroupWrap::DefineClass(env, "ProcessGroup", {
      ProcessGroupWrap::InstanceMethod<&ProcessGroupWrap::Connect>("connect"),
      ProcessGroupWrap::InstanceMethod<&ProcessGroupWrap::AllReduce>("allReduce"),
      ProcessGroupWrap::InstanceMethod<&ProcessGroupWrap::Broadcast>("broadcast"),
      ProcessGroupWrap::InstanceMethod<&ProcessGroupWrap::AllGather>("allGather"),
      ProcessGroupWrap::InstanceMethod<&ProcessGroupWrap::Barrier>("barrier"),
      ProcessGroupWrap::InstanceMethod<&ProcessGroupWrap::Destroy>("destroy"),
  });
  exports.Set("ProcessGroup", cls);
}

}  // namespace tc
