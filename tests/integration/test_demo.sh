# custos demo through the real binary: it runs the story in a fresh folder,
# replaces a folder an earlier demo made, and refuses any other folder.
source "$(dirname "$0")/lib.sh"
cd "$T"
expect_exit 0 "demo in a fresh folder" -- "$CUSTOS" demo --out demo1
expect_grep "Signals Directorate (Unit 8400)" "$T/out" "demo shows the signals unit"
expect_grep "Cyber Defence Command" "$T/out" "demo shows the cyber-defence unit"
expect_exit 0 "accounts in the demo workspace" -- "$CUSTOS" -w demo1/ws --json directory accounts --country XA
expect_grep '"id": "acct-arv-mod"' "$T/out" "the demo account is in the workspace"
expect_exit 0 "demo again replaces its own folder" -- "$CUSTOS" -q demo --out demo1
mkdir other && echo keep >other/file
expect_exit 3 "demo refuses a folder it did not make" -- "$CUSTOS" demo --out other
expect_grep "not made by custos demo" "$T/err" "refusal says why"
[ -f other/file ] && ok "the foreign folder is untouched" || not_ok "foreign folder changed"
expect_exit 2 "bad seed" -- "$CUSTOS" demo --seed x
expect_exit 3 "bad scale" -- "$CUSTOS" demo --scale tiny
finish
