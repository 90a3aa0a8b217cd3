package store_test

import (
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/abacus-billing/abacus/store"
	"github.com/abacus-billing/abacus/store/postgres"
	"github.com/abacus-billing/abacus/store/sqlite"
)

// landed pins the text of every migration that has landed. A migration is
// never edited once landed: Migrate compares versions only, so a database
// that ran it would never see the edit (0013 was, and a database that had
// run it first had no usage_paid until 0016). Add a new migration, and its
// digest here, instead.
var landed = map[string]string{
	"sqlite 0001_ledger":                   "500b77646b6987ba2a17087b39b7dfdaf561f7c924784ce3a3567cb70cffc72a",
	"sqlite 0002_usage":                    "529def69cef60fca39993005d14210ef10e29e21b0132ea98986b221169e785e",
	"sqlite 0003_dead_letter_headers":      "c21094759f8c3cd9e1041575f2b7e38e5fbe4cb25bfc4b0c9201b9d0a4df8054",
	"sqlite 0004_row_checks":               "9a5670447993dc194ab751f6a5aa8c2839940239cd192b0ebc65f46b4a1ec275",
	"sqlite 0005_void_refunds":             "eb90ae6449a1ad39ac0a61b7dcf46ab45b7661223e50d481aba528c8a13e5825",
	"sqlite 0006_account_event_order":      "641640c5ad9bccb1a125bcd178a843109bc08e89ae334acede733f468b2ae957",
	"sqlite 0007_binary_event_ids":         "f600f7a1cc33cc9839b44bdf4a6dd6b17416dcab79b43450acdcdd802cad175c",
	"sqlite 0008_unique_price_versions":    "2411c9530564da9abf5ca200214224e782cb7aa4d734ad45a2ad373acd8407a8",
	"sqlite 0009_price_uses":               "20d9591aa586b48a95a8ba1a0cf6dc7f72e01acb29778dc507f5e12146b89f43",
	"sqlite 0010_voided_index":             "ce742f95114e9fbf156f978d88c95c9c2c069c970f72934ca0d1abee4caa51e4",
	"sqlite 0011_price_corrections":        "f729cdd84f0e3285ced11734ccac4d5ebd0ea02be9bab59de6fec0dd305382f1",
	"sqlite 0012_event_costs":              "79c3c2cf98dd180cb589a5fac6ca08fd21fd444b162b717379545e76e0b5bc36",
	"sqlite 0013_net_drawn":                "0976b694bef2d7c3868fddc6a53eb5b8520c7ee7343477a05c7a4a24efa8e08c",
	"sqlite 0014_dead_letter_published":    "4a270c2fc5f287b6a75a90d9feb20afc29e5c9063e403892d2a895a6f33cbfa4",
	"sqlite 0015_uncommitted_licences":     "ef591a59d762a333f179c9207466d0cd7a4af69d223c902b7d4162195331c6fd",
	"sqlite 0016_usage_paid_repair":        "72059b24cef89b6e03d8d32c404eb6860d9cc0d8d04a2a4d7ccc50b3cf366958",
	"sqlite 0017_counter_versions":         "398c653d93119820d6a8bf888e9b5ee01fc2d5ac64eb4449f5596553e3d4f88b",
	"sqlite 0018_carry_periods":            "ed8d7382b4580b4e5b52ee28608880bfbf8b5972d2393855b791993ba0846c5c",
	"sqlite 0019_append_only":              "c4800d13563e6653af274821fd4d9384740203388c75bb9bfd9946821de985dc",
	"sqlite 0020_append_only_replace":      "59fbce65c3d0e84f9ff223893b12dadd1d3a09ca29bae180e286b50c9756174c",
	"sqlite 0021_append_only_truncate":     "030fe5abe905edfceec01f98a964b164db5b2f4154baf3412ab06d8066cea417",
	"sqlite 0022_unpriced_by_time":         "293d2dcbb387be88200f8bf1413263ad20ac1cee5b6926888a3bd44018b13301",
	"sqlite 0023_unpriced_rollups":         "079b2e69c25a2d9aabf00d16e1c6b0ea5988bae39ba45f3d650ffdede2ddf727",
	"sqlite 0024_billing_zone":             "5ec8ef48d94ae813fb5884cc33e8632f27e1f9345c6f31ed7cca97804a42056e",
	"sqlite 0025_usage_paid_by_resource":   "09489249901df06992a410d192726f511f9a1c26543e7ce4cbc7c226ea922873",
	"sqlite 0026_commitment_ends":          "2f1d0a79e8616dd1c46b6fca782d1d2ca5af932add47a5abb9ceda62a0e38d10",
	"sqlite 0027_dead_letter_keys":         "77141ad951ecdaed9eb8f5362ca3680a17e3629d706d4731a626114346ac965b",
	"postgres 0001_ledger":                 "e010e3d116c1377bfaa3192701f3232755dde6fca129262fae3c34cfe65b894f",
	"postgres 0002_usage":                  "0be7f9b1b762e5cd50ee7d4cf0a4fbf2e88e6be785d3aa74a4885bca705c9443",
	"postgres 0003_dead_letter_headers":    "c21094759f8c3cd9e1041575f2b7e38e5fbe4cb25bfc4b0c9201b9d0a4df8054",
	"postgres 0004_row_checks":             "33a582306273755ccbc1124fdb44f936b3e641a3ffac9df64d3536e1910ad5c9",
	"postgres 0005_void_refunds":           "eb90ae6449a1ad39ac0a61b7dcf46ab45b7661223e50d481aba528c8a13e5825",
	"postgres 0006_account_event_order":    "8bc6583989abf2018e590fa9596d47c2c60eb0f4520d875fbae9af5beb088b75",
	"postgres 0007_binary_event_ids":       "c04651b5aceef83c5ef8d7ad01518acbbef2016c7e1120bd880e3d24cfe1e0f6",
	"postgres 0008_unique_price_versions":  "2411c9530564da9abf5ca200214224e782cb7aa4d734ad45a2ad373acd8407a8",
	"postgres 0009_price_uses":             "8b2304c10c2a1c4226fe8f7bde71ba1f952e668dd2f5695f455615c470be3e06",
	"postgres 0010_voided_index":           "ce742f95114e9fbf156f978d88c95c9c2c069c970f72934ca0d1abee4caa51e4",
	"postgres 0011_price_corrections":      "f096cfc53f04b0e92d347998a096c0d50779bbe67d5abe1d2e51342f6d1d92a4",
	"postgres 0012_event_costs":            "79c3c2cf98dd180cb589a5fac6ca08fd21fd444b162b717379545e76e0b5bc36",
	"postgres 0013_net_drawn":              "bf7efccde6ae991c2e0b54ee1c83755ef09c6eaa96d83a339130527d9f1cf7a3",
	"postgres 0014_dead_letter_published":  "edbdf6434db35c451dd4d2f6679ec8a08f27d619a23fe5b374e45b7e8a3d6b2c",
	"postgres 0015_uncommitted_licences":   "fb96d05609b17f383de2e9a42bef620c114c2d0b6d300eec8b984b47a63c4cf3",
	"postgres 0016_usage_paid_repair":      "0a997aa999fdd3e9ad8df23866a36290829a863909ecfded5deaa65645540afa",
	"postgres 0017_counter_versions":       "1dfbf713fc5169ea73914a1de306d6bc562c767dc673ad86fbac536dcf10b198",
	"postgres 0018_carry_periods":          "ac3ef762f8f30ffd96d195679eb691352db98078bd22a6fe06e5bd4ac79ca3cc",
	"postgres 0019_append_only":            "685dc50359e13523a10babf1aaae0aad1e81863db8fe53909603f175cd5b1513",
	"postgres 0020_append_only_replace":    "35abc424873b1736713ade6c59fb77f26859fec681340b8fbffe802ae3ced1f6",
	"postgres 0021_append_only_truncate":   "48571740515ac68fa83da02d875f4223b70744c95e40b06d8a3cbe80ab6076d6",
	"postgres 0022_unpriced_by_time":       "293d2dcbb387be88200f8bf1413263ad20ac1cee5b6926888a3bd44018b13301",
	"postgres 0023_unpriced_rollups":       "432bff26f44a533cfe18b3683574cd4f45900977539624b97c28b45287c2e6a2",
	"postgres 0024_billing_zone":           "5ec8ef48d94ae813fb5884cc33e8632f27e1f9345c6f31ed7cca97804a42056e",
	"postgres 0025_usage_paid_by_resource": "125eee333763d13d8b2563a2f942ee304ac2c30284c5466638fb56a46d81b406",
	"postgres 0026_commitment_ends":        "955edbe6e980be0863dcdc7631ba415ef2d03e3097c8f7460838196d8c85973f",
	"postgres 0027_dead_letter_keys":       "cfcce914950ee46cb30c16791d28116bee01e3b12b86b9c334c4258909e44005",
}

func TestMigrationsAreNeverEdited(t *testing.T) {
	t.Parallel()
	for dialect, read := range map[string]func() ([]store.Migration, error){"sqlite": sqlite.Migrations, "postgres": postgres.Migrations} {
		ms, err := read()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			name := fmt.Sprintf("%s %04d_%s", dialect, m.Version, m.Name)
			want, ok := landed[name]
			got := fmt.Sprintf("%x", sha256.Sum256([]byte(m.SQL)))
			switch {
			case !ok:
				t.Errorf("%s is new: add it to landed with digest %s", name, got)
			case got != want:
				t.Errorf("%s was edited (digest %s, landed as %s): a database that ran it never sees the edit; undo it and add a migration", name, got, want)
			}
		}
	}
}
