package tencentemu

// action is one emulated API action.
type action struct {
	params []field
	create bool // a job-creating action: eligible for Busy and perform-then-fail faults
	limit  int  // requests per second; 0 → 20
	handle func(s *Server, c *call) (any, *apiError)
}

type product struct {
	version string
	actions map[string]action
}

// services routes by the product named in the credential scope.
var services map[string]product

func init() {
	services = map[string]product{
		"cdb":       {version: "2017-03-20", actions: cdbActions()},
		"sqlserver": {version: "2018-03-28", actions: mssqlActions()},
		"mongodb":   {version: "2019-07-25", actions: mongoActions()},
		"tdmq":      {version: "2020-02-17", actions: tdmqActions()},
		"tag":       {version: "2018-08-13", actions: tagActions()},
	}
}

// serviceOfVersion names the product a v1 request means when its host does
// not say: each emulated product has its own version date.
func serviceOfVersion(v string) string {
	for name, p := range services {
		if p.version == v {
			return name
		}
	}
	return ""
}

// Shorthands for parameter specs.
func str(name string) field     { return field{Name: name, Kind: kString} }
func reqStr(name string) field  { return field{Name: name, Kind: kString, Required: true} }
func num(name string) field     { return field{Name: name, Kind: kInt} }
func reqNum(name string) field  { return field{Name: name, Kind: kInt, Required: true} }
func strs(name string) field    { return field{Name: name, Kind: kStrings} }
func nums(name string) field    { return field{Name: name, Kind: kInts} }
func boolean(name string) field { return field{Name: name, Kind: kBool} }
func objs(name string, sub ...field) field {
	return field{Name: name, Kind: kObjects, Sub: sub}
}

// page applies a row offset and limit to n items, returning the bounds.
// A page number times a limit can overflow; anything out of range is an
// empty page, never a panic.
func page(n int, offset, limit int64) (int, int) {
	if offset < 0 || offset >= int64(n) || limit <= 0 {
		return n, n
	}
	end := offset + limit
	if end > int64(n) || end < offset {
		end = int64(n)
	}
	return int(offset), int(end)
}
