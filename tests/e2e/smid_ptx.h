/* "smid(unsigned *out, unsigned n)": block b writes the SM it ran on to
 * out[b], for the first n blocks; each block first spins for about 20 us, so
 * that a grid spreads over every SM it may use. Real PTX for the GPU; on
 * fakecuda, whose first line selects its CPU version, block b runs on SM
 * (b mod the stream's partition size) + the partition's first SM. */
#ifndef OPENMPS_SMID_PTX_H
#define OPENMPS_SMID_PTX_H

static const char smid_ptx[] = "// fakecuda: smid\n"
			       ".version 8.0\n.target sm_90\n.address_size 64\n"
			       ".visible .entry smid(.param .u64 out, .param .u32 n)\n{\n"
			       " .reg .b32 r<5>; .reg .b64 rd<8>; .reg .pred q;\n"
			       " mov.u64 rd5, %clock64;\n"
			       "spin:\n mov.u64 rd6, %clock64; sub.s64 rd7, rd6, rd5; setp.lt.s64 q, rd7, 40000; @q bra spin;\n"
			       " ld.param.u64 rd1, [out]; ld.param.u32 r1, [n];\n"
			       " mov.u32 r2, %ctaid.x; mov.u32 r4, %tid.x; setp.ne.u32 q, r4, 0; @q bra done;\n"
			       " setp.ge.u32 q, r2, r1; @q bra done;\n"
			       " mov.u32 r3, %smid;\n"
			       " cvta.to.global.u64 rd2, rd1; mul.wide.u32 rd3, r2, 4; add.s64 rd4, rd2, rd3;\n"
			       " st.global.u32 [rd4], r3;\n"
			       "done:\n ret;\n}\n";

#endif
