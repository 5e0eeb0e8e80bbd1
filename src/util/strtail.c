/*
 * strtail.c - the out-of-line part of an inlined call site's string work (include/skylog.h):
 * measuring a SKY_STR string that goes on past its first 16-byte block, and copying a string
 * of over 32 bytes into the ring. A call site measures and copies short strings itself; the
 * rest comes here, to routines chosen once at load for the CPU: AVX2 (32 bytes a load) where
 * the CPU and the kernel have it, SSE2 (every x86-64) otherwise.
 *
 * They are not C functions. A C call would make the call site keep its values across it in
 * callee-saved registers (saved and restored on every call, the short-string ones too) or spill
 * them around it; these clobber only the registers the header names (SKY__TAIL_CLOBBERS), so
 * the site keeps every other value where it was. The site jumps to them with the address to
 * come back to in r11 (`lea 1f(%rip), %r11; jmp *sky__strlen_tail(%rip); 1: endbr64`): no
 * call, so the 128 bytes under the stack pointer (the red zone, which the compiler may be
 * using) are untouched and the stack is never moved; each entry and each return point starts
 * with endbr64 for CPUs that enforce indirect-branch tracking, and the CFI below says where the
 * return address is, so a profiler or debugger can unwind from inside them.
 *
 *   strlen: rax = s, whose bytes up to the end of the aligned 16-byte block that holds s[0]
 *           are not NUL (the call site tested them); returns rax = strlen(s). Clobbers rcx,
 *           rdx, r11, xmm13-xmm15 (ymm). Its loads are aligned (16 or 32 bytes; pairs 32- or
 *           64-aligned), so they never cross into another page, though they read past the NUL.
 *   copy:   r8 = d, r9 = s, r10 = n (n >= 32): copies n bytes, writes nothing else.
 *           Keeps r8, r9, r10. Clobbers rax, rcx, r11, xmm14-xmm15 (ymm).
 *
 * The AVX2 routines end with vzeroupper (legacy-SSE code after them pays no transition); a site
 * compiled with AVX (which could keep a 256-bit value in any ymm register) names every vector
 * register as clobbered (skylog.h). Under valgrind the CPU is what valgrind emulates (AVX2 yes,
 * AVX-512 no). tests/unit/test_site_strings.c forces each variant (sky__strtail_select).
 */
#include "util/strtail.h"

#if defined(__x86_64__) && defined(__GNUC__)

#define ASM_FN(name)                                                                               \
    ".p2align 5\n\t.type " name ",@function\n" name ":\n\t.cfi_startproc\n\t"                       \
    ".cfi_def_cfa_offset 0\n\t.cfi_register %rip, %r11\n\tendbr64\n\t"
#define ASM_END(name) ".cfi_endproc\n\t.size " name ", .-" name "\n\t"

__asm__(".text\n\t"
        /* SSE2 strlen: from the aligned 16-byte block after s's own, one block to a 32-byte
         * boundary, then 32-byte aligned pairs tested by their bytewise minimum (pminub); the
         * pair that holds the NUL is tested again block by block. */
        ASM_FN("sky__strlen_sse2")
        "mov %rax, %rdx\n\t"
        "and $-16, %rdx\n\t"
        "add $16, %rdx\n\t"
        "pxor %xmm13, %xmm13\n\t"
        "test $16, %dl\n\t"
        "jz 2f\n\t"
        "movdqa (%rdx), %xmm14\n\t"
        "pcmpeqb %xmm13, %xmm14\n\t"
        "pmovmskb %xmm14, %ecx\n\t"
        "test %ecx, %ecx\n\t"
        "jnz 7f\n\t"
        "add $16, %rdx\n"
        "2:\tmovdqa (%rdx), %xmm14\n\t"
        "movdqa 16(%rdx), %xmm15\n\t"
        "pminub %xmm14, %xmm15\n\t"
        "pcmpeqb %xmm13, %xmm15\n\t"
        "pmovmskb %xmm15, %ecx\n\t"
        "add $32, %rdx\n\t"
        "test %ecx, %ecx\n\t"
        "jz 2b\n\t"
        "sub %rax, %rdx\n\t"
        "pcmpeqb %xmm13, %xmm14\n\t"
        "pmovmskb %xmm14, %eax\n\t"
        "shl $16, %ecx\n\t"
        "or %ecx, %eax\n\t"
        "bsf %eax, %eax\n\t"
        "lea -32(%rdx,%rax), %rax\n\t"
        "jmp *%r11\n"
        "7:\tsub %rax, %rdx\n\t"
        "bsf %ecx, %eax\n\t"
        "add %rdx, %rax\n\t"
        "jmp *%r11\n\t" ASM_END("sky__strlen_sse2")

        /* AVX2 strlen: the same with 32-byte blocks (the first one's bytes up to s's first
         * block masked off) and 64-byte aligned pairs */
        ASM_FN("sky__strlen_avx2")
        "mov %rax, %rdx\n\t"
        "and $-16, %rdx\n\t"
        "vpxor %xmm13, %xmm13, %xmm13\n\t"
        "test $16, %dl\n\t"
        "jnz 1f\n\t"
        "vpcmpeqb (%rdx), %ymm13, %ymm14\n\t"
        "vpmovmskb %ymm14, %ecx\n\t"
        "and $-65536, %ecx\n\t"
        "jnz 7f\n\t"
        "add $16, %rdx\n"
        "1:\tadd $16, %rdx\n\t"
        "test $32, %dl\n\t"
        "jz 2f\n\t"
        "vpcmpeqb (%rdx), %ymm13, %ymm14\n\t"
        "vpmovmskb %ymm14, %ecx\n\t"
        "test %ecx, %ecx\n\t"
        "jnz 7f\n\t"
        "add $32, %rdx\n"
        "2:\tvmovdqa (%rdx), %ymm14\n\t"
        "vpminub 32(%rdx), %ymm14, %ymm15\n\t"
        "vpcmpeqb %ymm13, %ymm15, %ymm15\n\t"
        "vpmovmskb %ymm15, %ecx\n\t"
        "add $64, %rdx\n\t"
        "test %ecx, %ecx\n\t"
        "jz 2b\n\t"
        "sub %rax, %rdx\n\t"
        "vpcmpeqb %ymm13, %ymm14, %ymm14\n\t"
        "vpmovmskb %ymm14, %eax\n\t"
        "shl $32, %rcx\n\t"
        "or %rcx, %rax\n\t"
        "bsf %rax, %rax\n\t"
        "lea -64(%rdx,%rax), %rax\n\t"
        "vzeroupper\n\t"
        "jmp *%r11\n"
        "7:\tsub %rax, %rdx\n\t"
        "bsf %ecx, %eax\n\t"
        "add %rdx, %rax\n\t"
        "vzeroupper\n\t"
        "jmp *%r11\n\t" ASM_END("sky__strlen_avx2")

        /* SSE2 copy: 32 bytes a step from the start while more than 32 are left, then the
         * last 32 (overlapping the loop's last step) */
        ASM_FN("sky__copy_sse2")
        "lea -32(%r10), %rcx\n\t"
        "xor %eax, %eax\n"
        "2:\tmovdqu (%r9,%rax), %xmm14\n\t"
        "movdqu 16(%r9,%rax), %xmm15\n\t"
        "movdqu %xmm14, (%r8,%rax)\n\t"
        "movdqu %xmm15, 16(%r8,%rax)\n\t"
        "add $32, %rax\n\t"
        "cmp %rcx, %rax\n\t"
        "jb 2b\n\t"
        "movdqu -32(%r9,%r10), %xmm14\n\t"
        "movdqu -16(%r9,%r10), %xmm15\n\t"
        "movdqu %xmm14, -32(%r8,%r10)\n\t"
        "movdqu %xmm15, -16(%r8,%r10)\n\t"
        "jmp *%r11\n\t" ASM_END("sky__copy_sse2")

        /* AVX2 copy: up to 64 bytes as two overlapping 32-byte moves, else 32 bytes a step and
         * the last 32 */
        ASM_FN("sky__copy_avx2")
        "vmovdqu (%r9), %ymm14\n\t"
        "vmovdqu -32(%r9,%r10), %ymm15\n\t"
        "vmovdqu %ymm14, (%r8)\n\t"
        "cmp $64, %r10\n\t"
        "jbe 3f\n\t"
        "lea -32(%r10), %rcx\n\t"
        "mov $32, %eax\n"
        "2:\tvmovdqu (%r9,%rax), %ymm14\n\t"
        "vmovdqu %ymm14, (%r8,%rax)\n\t"
        "add $32, %rax\n\t"
        "cmp %rcx, %rax\n\t"
        "jb 2b\n"
        "3:\tvmovdqu %ymm15, -32(%r8,%r10)\n\t"
        "vzeroupper\n\t"
        "jmp *%r11\n\t" ASM_END("sky__copy_avx2")
        ".previous");

/* the routines' entry points, as data (they are not C functions) */
extern const char sky__strlen_sse2[], sky__strlen_avx2[], sky__copy_sse2[], sky__copy_avx2[];

const void *sky__strlen_tail = sky__strlen_sse2;
const void *sky__copy_tail = sky__copy_sse2;

static bool avx2_cpu(void)
{
    __builtin_cpu_init();
    /* libgcc's "avx2" also requires the kernel to save the ymm registers (XCR0) */
    return __builtin_cpu_supports("avx2");
}

/* Chosen before main (and before any other constructor's log call could see SSE2 twice: the
 * SSE2 routines are the initial values, so a site that runs earlier is still correct). */
__attribute__((constructor)) static void choose(void) { sky__strtail_select(SKY__STRTAIL_BEST); }

int sky__strtail_select(int variant)
{
    bool avx2 = avx2_cpu();
    if (variant == SKY__STRTAIL_BEST)
        variant = avx2 ? SKY__STRTAIL_AVX2 : SKY__STRTAIL_SSE2;
    if (variant == SKY__STRTAIL_AVX2 && !avx2)
        return -1;
    sky__strlen_tail = variant == SKY__STRTAIL_AVX2 ? sky__strlen_avx2 : sky__strlen_sse2;
    sky__copy_tail = variant == SKY__STRTAIL_AVX2 ? sky__copy_avx2 : sky__copy_sse2;
    return variant;
}

#else

int sky__strtail_select(int variant) { return variant == SKY__STRTAIL_BEST ? 0 : -1; }

#endif
