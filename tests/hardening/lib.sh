# Shared by the hardening harnesses (sourced, not run): the LeNet-5 campaign they drive
# and the SQL that reads back every committed row, so that "equal to the reference run"
# means the same thing in each of them.

# lenet_campaign FILE NAME SEED TRIALS: fp16 weights and activations, single-bit data flips
# in every layer, batch 32 over the first 300 correctly classified evaluation images.
lenet_campaign() {
    cat >"$1" <<EOF2
{"name": "$2", "model": "$root/models/lenet5.onnx",
 "data": {"inputs": "$root/models/data/fmnist_eval_x.npy",
          "labels": "$root/models/data/fmnist_eval_y.npy", "samples": 300, "only_correct": true},
 "seed": $3, "database": "$work/unused.db", "batch": 32,
 "formats": {"activations": "fp16", "weights": "fp16"},
 "targets": {"tensors": ["activations", "weights"], "bits": ["data"]},
 "process": {"type": "per_layer", "flips": 1, "trials": $4}}
EOF2
}

q() { sqlite3 -batch -noheader "$1" "$2"; }
trial_rows() {
    q "$1" "SELECT trial, layer, tensor_kind, bit_kind, n_flips, sample, n_samples, quote(loss),
            quote(delta_loss), quote(mismatch), outcome, detected FROM trials ORDER BY trial"
}
flip_rows() {
    q "$1" "SELECT trial, seq, layer, tensor_kind, is_meta, idx, bit, field, quote(value_before),
            quote(value_after) FROM flips ORDER BY trial, seq"
}
