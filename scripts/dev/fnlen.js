const ts=require("typescript"),fs=require("fs"),path=require("path");
const out=[];function walk(d){for(const f of fs.readdirSync(d)){const p=path.join(d,f);if(fs.statSync(p).isDirectory())walk(p);else if(p.endsWith(".ts"))scan(p);}}
function scan(p){const sf=ts.createSourceFile(p,fs.readFileSync(p,"utf8"),ts.ScriptTarget.Latest,true);
function v(n){if(ts.isFunctionDeclaration(n)||ts.isMethodDeclaration(n)||ts.isConstructorDeclaration(n)||ts.isArrowFunction(n)||ts.isFunctionExpression(n)){const a=sf.getLineAndCharacterOfPosition(n.getStart()).line,b=sf.getLineAndCharacterOfPosition(n.getEnd()).line;let name=n.name?n.name.getText():ts.isConstructorDeclaration(n)?"constructor":(n.parent&&n.parent.name?n.parent.name.getText():"<anon>");out.push([b-a+1,p+":"+(a+1)+" "+name]);}ts.forEachChild(n,v);}v(sf);}
walk(process.argv[2]);out.sort((x,y)=>y[0]-x[0]);console.log(out.slice(0,+process.argv[3]||20).map(x=>x.join(" ")).join("\n"));
