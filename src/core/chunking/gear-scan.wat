;; The hot loop of Chunker.scan (chunker.ts) in WebAssembly, because V8 compiles it without bounds checks on every
;; byte and table load; eight bytes a turn, with one test of the loop's end for the eight and the rare match handled
;; in line (the same loop calling a function for the match ran no faster than one byte a turn): 0.40 against 0.75 ns
;; per byte one byte a turn on the project's 2-core VM (docs/benchmarks.md, "Session 22"). gear-scan.wasm is this file
;; compiled with wabt (`npm run build:wasm`); a test recompiles it and compares.
;;
;; The memory is shared with the main thread: it holds the gear table (256 x i32 at offset 0), each worker's output
;; area and the windows of file data. For every position p in [from, to) the rolling hash h (over the 32 bytes
;; ending at p, warmed up from `warm`) is tested against both masks; matches are written to `out` as p * 4 + flags
;; (1: small mask, 2: large mask). Returns how many were written, or max + 1 when `out` is full (the caller then
;; cuts that window the slow way).
;;
;; `move` copies bytes within the memory (memory.copy): a pull's hashing worker moves a verified run of chunks from
;; where its read landed to where its write must start. V8 copies shared memory from JavaScript with relaxed atomics,
;; a byte at a time unless source and target share their offset in an 8-byte word (0.67 against 9 GB/s, Node 20).
(module
  (import "env" "memory" (memory 1 65536 shared))
  (func (export "scan")
    (param $from i32) (param $to i32) (param $warm i32)
    (param $small i32) (param $large i32) (param $out i32) (param $max i32)
    (result i32)
    (local $i i32) (local $h i32) (local $n i32) (local $either i32) (local $flags i32) (local $last8 i32)
    (local.set $either (i32.and (local.get $small) (local.get $large)))
    ;; warm up: the hash of the bytes before `from`, without tests
    (local.set $i (local.get $warm))
    (block $warmed
      (loop $warming
        (br_if $warmed (i32.ge_u (local.get $i) (local.get $from)))
        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
                               (i32.load (i32.shl (i32.load8_u (local.get $i)) (i32.const 2)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $warming)))
    ;; eight bytes a turn while eight remain: i <= to - 8, when to >= 8 (offsets are unsigned)
    (local.set $last8 (i32.sub (local.get $to) (i32.const 8)))
    (if (i32.lt_u (local.get $to) (i32.const 8)) (then (local.set $last8 (i32.const -1))))
    (block $eights
      (br_if $eights (i32.eq (local.get $last8) (i32.const -1)))
      (loop $eight
        (br_if $eights (i32.gt_u (local.get $i) (local.get $last8)))
        ;; byte i + 0
        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
                               (i32.load (i32.shl (i32.load8_u (local.get $i)) (i32.const 2)))))
        ;; a match of either mask also matches their intersection: one cheap test per byte
        (if (i32.eqz (i32.and (local.get $h) (local.get $either)))
          (then
            (local.set $flags
              (i32.or (i32.eqz (i32.and (local.get $h) (local.get $small)))
                      (i32.shl (i32.eqz (i32.and (local.get $h) (local.get $large))) (i32.const 1))))
            (if (local.get $flags)
              (then
                (if (i32.ge_u (local.get $n) (local.get $max))
                  (then (return (i32.add (local.get $max) (i32.const 1)))))
                (i32.store (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2)))
                           (i32.or (i32.shl (local.get $i) (i32.const 2)) (local.get $flags)))
                (local.set $n (i32.add (local.get $n) (i32.const 1)))))))
        ;; byte i + 1
        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
                               (i32.load (i32.shl (i32.load8_u offset=1 (local.get $i)) (i32.const 2)))))
        ;; a match of either mask also matches their intersection: one cheap test per byte
        (if (i32.eqz (i32.and (local.get $h) (local.get $either)))
          (then
            (local.set $flags
              (i32.or (i32.eqz (i32.and (local.get $h) (local.get $small)))
                      (i32.shl (i32.eqz (i32.and (local.get $h) (local.get $large))) (i32.const 1))))
            (if (local.get $flags)
              (then
                (if (i32.ge_u (local.get $n) (local.get $max))
                  (then (return (i32.add (local.get $max) (i32.const 1)))))
                (i32.store (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2)))
                           (i32.or (i32.shl (i32.add (local.get $i) (i32.const 1)) (i32.const 2)) (local.get $flags)))
                (local.set $n (i32.add (local.get $n) (i32.const 1)))))))
        ;; byte i + 2
        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
                               (i32.load (i32.shl (i32.load8_u offset=2 (local.get $i)) (i32.const 2)))))
        ;; a match of either mask also matches their intersection: one cheap test per byte
        (if (i32.eqz (i32.and (local.get $h) (local.get $either)))
          (then
            (local.set $flags
              (i32.or (i32.eqz (i32.and (local.get $h) (local.get $small)))
                      (i32.shl (i32.eqz (i32.and (local.get $h) (local.get $large))) (i32.const 1))))
            (if (local.get $flags)
              (then
                (if (i32.ge_u (local.get $n) (local.get $max))
                  (then (return (i32.add (local.get $max) (i32.const 1)))))
                (i32.store (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2)))
                           (i32.or (i32.shl (i32.add (local.get $i) (i32.const 2)) (i32.const 2)) (local.get $flags)))
                (local.set $n (i32.add (local.get $n) (i32.const 1)))))))
        ;; byte i + 3
        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
                               (i32.load (i32.shl (i32.load8_u offset=3 (local.get $i)) (i32.const 2)))))
        ;; a match of either mask also matches their intersection: one cheap test per byte
        (if (i32.eqz (i32.and (local.get $h) (local.get $either)))
          (then
            (local.set $flags
              (i32.or (i32.eqz (i32.and (local.get $h) (local.get $small)))
                      (i32.shl (i32.eqz (i32.and (local.get $h) (local.get $large))) (i32.const 1))))
            (if (local.get $flags)
              (then
                (if (i32.ge_u (local.get $n) (local.get $max))
                  (then (return (i32.add (local.get $max) (i32.const 1)))))
                (i32.store (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2)))
                           (i32.or (i32.shl (i32.add (local.get $i) (i32.const 3)) (i32.const 2)) (local.get $flags)))
                (local.set $n (i32.add (local.get $n) (i32.const 1)))))))
        ;; byte i + 4
        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
                               (i32.load (i32.shl (i32.load8_u offset=4 (local.get $i)) (i32.const 2)))))
        ;; a match of either mask also matches their intersection: one cheap test per byte
        (if (i32.eqz (i32.and (local.get $h) (local.get $either)))
          (then
            (local.set $flags
              (i32.or (i32.eqz (i32.and (local.get $h) (local.get $small)))
                      (i32.shl (i32.eqz (i32.and (local.get $h) (local.get $large))) (i32.const 1))))
            (if (local.get $flags)
              (then
                (if (i32.ge_u (local.get $n) (local.get $max))
                  (then (return (i32.add (local.get $max) (i32.const 1)))))
                (i32.store (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2)))
                           (i32.or (i32.shl (i32.add (local.get $i) (i32.const 4)) (i32.const 2)) (local.get $flags)))
                (local.set $n (i32.add (local.get $n) (i32.const 1)))))))
        ;; byte i + 5
        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
                               (i32.load (i32.shl (i32.load8_u offset=5 (local.get $i)) (i32.const 2)))))
        ;; a match of either mask also matches their intersection: one cheap test per byte
        (if (i32.eqz (i32.and (local.get $h) (local.get $either)))
          (then
            (local.set $flags
              (i32.or (i32.eqz (i32.and (local.get $h) (local.get $small)))
                      (i32.shl (i32.eqz (i32.and (local.get $h) (local.get $large))) (i32.const 1))))
            (if (local.get $flags)
              (then
                (if (i32.ge_u (local.get $n) (local.get $max))
                  (then (return (i32.add (local.get $max) (i32.const 1)))))
                (i32.store (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2)))
                           (i32.or (i32.shl (i32.add (local.get $i) (i32.const 5)) (i32.const 2)) (local.get $flags)))
                (local.set $n (i32.add (local.get $n) (i32.const 1)))))))
        ;; byte i + 6
        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
                               (i32.load (i32.shl (i32.load8_u offset=6 (local.get $i)) (i32.const 2)))))
        ;; a match of either mask also matches their intersection: one cheap test per byte
        (if (i32.eqz (i32.and (local.get $h) (local.get $either)))
          (then
            (local.set $flags
              (i32.or (i32.eqz (i32.and (local.get $h) (local.get $small)))
                      (i32.shl (i32.eqz (i32.and (local.get $h) (local.get $large))) (i32.const 1))))
            (if (local.get $flags)
              (then
                (if (i32.ge_u (local.get $n) (local.get $max))
                  (then (return (i32.add (local.get $max) (i32.const 1)))))
                (i32.store (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2)))
                           (i32.or (i32.shl (i32.add (local.get $i) (i32.const 6)) (i32.const 2)) (local.get $flags)))
                (local.set $n (i32.add (local.get $n) (i32.const 1)))))))
        ;; byte i + 7
        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
                               (i32.load (i32.shl (i32.load8_u offset=7 (local.get $i)) (i32.const 2)))))
        ;; a match of either mask also matches their intersection: one cheap test per byte
        (if (i32.eqz (i32.and (local.get $h) (local.get $either)))
          (then
            (local.set $flags
              (i32.or (i32.eqz (i32.and (local.get $h) (local.get $small)))
                      (i32.shl (i32.eqz (i32.and (local.get $h) (local.get $large))) (i32.const 1))))
            (if (local.get $flags)
              (then
                (if (i32.ge_u (local.get $n) (local.get $max))
                  (then (return (i32.add (local.get $max) (i32.const 1)))))
                (i32.store (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2)))
                           (i32.or (i32.shl (i32.add (local.get $i) (i32.const 7)) (i32.const 2)) (local.get $flags)))
                (local.set $n (i32.add (local.get $n) (i32.const 1)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $eight)))
    ;; the last bytes, one a turn
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $to)))
        ;; byte i + 0
        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
                               (i32.load (i32.shl (i32.load8_u (local.get $i)) (i32.const 2)))))
        ;; a match of either mask also matches their intersection: one cheap test per byte
        (if (i32.eqz (i32.and (local.get $h) (local.get $either)))
          (then
            (local.set $flags
              (i32.or (i32.eqz (i32.and (local.get $h) (local.get $small)))
                      (i32.shl (i32.eqz (i32.and (local.get $h) (local.get $large))) (i32.const 1))))
            (if (local.get $flags)
              (then
                (if (i32.ge_u (local.get $n) (local.get $max))
                  (then (return (i32.add (local.get $max) (i32.const 1)))))
                (i32.store (i32.add (local.get $out) (i32.shl (local.get $n) (i32.const 2)))
                           (i32.or (i32.shl (local.get $i) (i32.const 2)) (local.get $flags)))
                (local.set $n (i32.add (local.get $n) (i32.const 1)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $n))
  (func (export "move") (param $to i32) (param $from i32) (param $length i32)
    (memory.copy (local.get $to) (local.get $from) (local.get $length)))
)
