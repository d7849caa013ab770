"""A standalone llvmlite reproducer of an LLVM 22.1 miscompile (not a benchmark, not a test):
floor division of two i32 arrays of 2 (rounded down by sign(x xor y)), stored as float,
beside the floor modulus stored as i8, at O3 with the SLP vectorizer, for an AVX-512 host
CPU. On rocketlake element 1 of [-1, -1] // [2, 2] comes out 0 (expected -1); without SLP, or
without AVX-512, it is right. jitflow's floordiv lowering avoids the form
(backends/llvm/elementwise.py); tests/test_dtypes_narrow.py keeps the jitflow-level case.

    python benchmarks/llvm_slp_floordiv_repro.py
"""
import ctypes, numpy as np, sys
import llvmlite.binding as llvm
llvm.initialize_native_target(); llvm.initialize_native_asmprinter()
body = lambda which: f"""
  br label %h{which}
h{which}:
  %i{which} = phi i64 [0, %{'entry' if which == 0 else 'x0'}], [%n{which}, %b{which}]
  %c{which} = icmp slt i64 %i{which}, 2
  br i1 %c{which}, label %b{which}, label %x{which}
b{which}:
  %px{which} = getelementptr inbounds i32, ptr %x, i64 %i{which}
  %vx{which} = load i32, ptr %px{which}
  %py{which} = getelementptr inbounds i32, ptr %y, i64 %i{which}
  %vy{which} = load i32, ptr %py{which}
  %z{which} = icmp eq i32 %vy{which}, 0
  %m{which} = icmp eq i32 %vx{which}, -2147483648
  %o{which} = icmp eq i32 %vy{which}, -1
  %mo{which} = and i1 %m{which}, %o{which}
  %bad{which} = or i1 %z{which}, %mo{which}
  %d{which} = select i1 %bad{which}, i32 1, i32 %vy{which}
  %q{which} = sdiv i32 %vx{which}, %d{which}
  %r{which} = srem i32 %vx{which}, %d{which}
  %nz{which} = icmp ne i32 %r{which}, 0
""" + (f"""
  %xx{which} = xor i32 %vx{which}, %d{which}
  %ng{which} = icmp slt i32 %xx{which}, 0
  %adj{which} = and i1 %nz{which}, %ng{which}
  %q1{which} = sub i32 %q{which}, 1
  %fq{which} = select i1 %adj{which}, i32 %q1{which}, i32 %q{which}
  %ff{which} = sitofp i32 %fq{which} to float
  %pf{which} = getelementptr inbounds float, ptr %of, i64 %i{which}
  store float %ff{which}, ptr %pf{which}
""" if which == 0 else f"""
  %rn{which} = icmp slt i32 %r{which}, 0
  %yn{which} = icmp slt i32 %d{which}, 0
  %df{which} = xor i1 %rn{which}, %yn{which}
  %adj{which} = and i1 %nz{which}, %df{which}
  %r2{which} = add i32 %r{which}, %vy{which}
  %rr{which} = select i1 %adj{which}, i32 %r2{which}, i32 %r{which}
  %t{which} = trunc i32 %rr{which} to i8
  %pm{which} = getelementptr inbounds i8, ptr %om, i64 %i{which}
  store i8 %t{which}, ptr %pm{which}
""") + f"""
  %n{which} = add nuw nsw i64 %i{which}, 1
  br label %h{which}
x{which}:
"""
ir = ("define void @f(ptr noalias %x, ptr noalias %y, ptr noalias %of, ptr noalias %om) {\nentry:"
      + body(0) + body(1) + "  ret void\n}\n")
mod = llvm.parse_assembly(ir); mod.verify()
feats = llvm.get_host_cpu_features().flatten() if len(sys.argv) < 2 else sys.argv[1]
tm = llvm.Target.from_default_triple().create_target_machine(
    cpu=llvm.get_host_cpu_name(), features=feats, opt=3, jit=True)
pto = llvm.create_pipeline_tuning_options(speed_level=3)
pto.loop_vectorization = True; pto.slp_vectorization = True
pb = llvm.create_pass_builder(tm, pto); pb.getModulePassManager().run(mod, pb)
ee = llvm.create_mcjit_compiler(mod, tm); ee.finalize_object()
fn = ctypes.CFUNCTYPE(None, *[ctypes.c_void_p] * 4)(ee.get_function_address("f"))
x = np.array([-1, -1], np.int32); y = np.array([2, 2], np.int32)
of = np.zeros(2, np.float32); om = np.zeros(2, np.int8)
fn(x.ctypes.data, y.ctypes.data, of.ctypes.data, om.ctypes.data)
print("llvm", llvm.llvm_version_info, llvm.get_host_cpu_name(), "floordiv:", of, "(expected [-1. -1.]) mod:", om)
